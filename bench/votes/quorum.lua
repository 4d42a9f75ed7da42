-- wrk script for Quorum: random approved members vote on random proposals of one event,
-- and every COMMENT_EVERY-th request (default 5, i.e. 1 in 5; 0 = votes only) is a
-- comment instead. Reads tokens.txt, proposals.txt and event.txt written by seed.py.
--
--   wrk -t1 -c100 -d30s --latency -s quorum.lua http://127.0.0.1:18020 -- DATA_DIR [COMMENT_EVERY]

local script_dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(script_dir .. "report.lua")

local tokens, proposals, base = {}, {}, nil
local comment_every, n = 5, 0
local comment_body = '{"body": "A benchmark comment: this proposal needs a second look."}'

local function lines(path)
  local out = {}
  for line in io.lines(path) do
    if line ~= "" then table.insert(out, line) end
  end
  return out
end

function init(args)
  local dir = assert(args[1], "pass the data directory: wrk ... -- DATA_DIR [COMMENT_EVERY]")
  comment_every = tonumber(args[2] or "5")
  for _, token in ipairs(lines(dir .. "/tokens.txt")) do
    table.insert(tokens, "Bearer " .. token)
  end
  proposals = lines(dir .. "/proposals.txt")
  base = "/api/v1/events/" .. lines(dir .. "/event.txt")[1] .. "/proposals/"
  math.randomseed(os.time())
end

function request()
  n = n + 1
  local path = base .. proposals[math.random(#proposals)]
  local headers = { ["Authorization"] = tokens[math.random(#tokens)] }
  if comment_every > 0 and n % comment_every == 0 then
    headers["Content-Type"] = "application/json"
    return wrk.format("POST", path .. "/comments", headers, comment_body)
  end
  return wrk.format("POST", path .. "/votes", headers, "")
end
