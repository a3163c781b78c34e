-- wrk script for POST /1.0/sign with pre-minted one-time tokens (scripts/bench-serve.sh --vs-wrk):
--   wrk -t2 -c64 -d5s --latency -s scripts/wrk-sign.lua https://CA -- BODIES_FILE THREADS
-- BODIES_FILE holds one JSON body a line (examples/loadgen.rs with MINT=FILE); THREADS is wrk's -t. Each thread
-- takes every THREADS-th line, so no token is sent twice; a thread that runs out repeats its last body, which the
-- CA refuses (401), and wrk reports those as non-2xx answers.
local count = 0

function setup(thread)
  count = count + 1
  thread:set("id", count)
end

function init(args)
  local nthreads = tonumber(args[2])
  bodies = {}
  local n = 0
  for line in io.lines(args[1]) do
    if n % nthreads == id - 1 then
      bodies[#bodies + 1] = line
    end
    n = n + 1
  end
  i = 0
  headers = { ["Content-Type"] = "application/json" }
end

function request()
  i = i + 1
  if i > #bodies then i = #bodies end
  return wrk.format("POST", "/1.0/sign", headers, bodies[i])
end
