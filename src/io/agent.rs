//! The ssh-agent at `$SSH_AUTH_SOCK`: one request, one answer (draft-miller-ssh-agent framing).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// Sends a framed request to the agent at `socket` and reports whether it answered SSH_AGENT_SUCCESS.
pub fn send(socket: &std::path::Path, request: &[u8]) -> Result<(), String> {
    let mut s = UnixStream::connect(socket)
        .map_err(|e| format!("cannot connect to the ssh-agent at {}: {e}", socket.display()))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    s.write_all(request)
        .map_err(|e| format!("writing to the ssh-agent: {e}"))?;
    let mut len = [0u8; 4];
    s.read_exact(&mut len)
        .map_err(|e| format!("reading the ssh-agent's answer: {e}"))?;
    let n = u32::from_be_bytes(len) as usize;
    if n == 0 || n > 256 * 1024 {
        return Err(format!("the ssh-agent answered a {n}-byte message"));
    }
    let mut body = vec![0u8; n];
    s.read_exact(&mut body)
        .map_err(|e| format!("reading the ssh-agent's answer: {e}"))?;
    match body[0] {
        6 => Ok(()),
        5 => Err("the ssh-agent refused the key".into()),
        other => Err(format!("the ssh-agent answered message type {other}")),
    }
}
