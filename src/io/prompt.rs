//! Choosing from a list on the terminal, as step does when several provisioners fit: the arrow keys move, Enter
//! picks, a digit picks that entry at once. Only when stdin and stderr are both a terminal; otherwise the caller
//! fails at once naming the flag, so nothing ever waits on a prompt nobody can answer.

use std::io::IsTerminal;

use anyhow::{Result, bail};
use console::{Key, Term};

/// Whether a question can be asked: stdin and stderr are a terminal.
pub fn can_ask() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Asks `question` with `items` to pick from; the chosen index, or `None` without a terminal. Esc, q and Ctrl-C
/// cancel with an error.
pub fn choose(question: &str, label: &str, items: &[String]) -> Result<Option<usize>> {
    if !can_ask() || items.is_empty() {
        return Ok(None);
    }
    let term = Term::stderr();
    let mut at = 0usize;
    let draw = |at: usize| -> std::io::Result<()> {
        for (i, item) in items.iter().enumerate() {
            let mark = if i == at { "▸" } else { " " };
            term.write_line(&format!("  {mark} {}) {item}", i + 1))?;
        }
        Ok(())
    };
    term.write_line("Use the arrow keys to navigate: ↓ ↑, Enter to choose, or type a number")?;
    term.write_line(question)?;
    draw(at)?;
    let chosen = loop {
        let key = term.read_key()?;
        match key {
            Key::ArrowDown | Key::ArrowRight | Key::Tab | Key::Char('j') => at = (at + 1) % items.len(),
            Key::ArrowUp | Key::ArrowLeft | Key::BackTab | Key::Char('k') => at = (at + items.len() - 1) % items.len(),
            Key::Enter => break at,
            Key::Char(c) if c.is_ascii_digit() => match c.to_digit(10).map(|d| d as usize) {
                Some(n) if (1..=items.len()).contains(&n) => break n - 1,
                _ => continue,
            },
            Key::Escape | Key::CtrlC | Key::Char('q') => {
                term.clear_last_lines(items.len() + 2)?;
                bail!("no {label} chosen");
            }
            _ => continue,
        }
        term.clear_last_lines(items.len())?;
        draw(at)?;
    };
    term.clear_last_lines(items.len() + 2)?;
    term.write_line(&format!("✔ {label}: {}", items[chosen]))?;
    Ok(Some(chosen))
}
