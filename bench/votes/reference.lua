-- wrk script for the reference servers in ../shared/bench: the same requests as their
-- vote.lua (a vote by a random user on one of 1,000 proposals of one hot event), with the
-- response counting and report that quorum.lua has, so all servers are measured alike.
--
--   wrk -t1 -c100 -d30s --latency -s reference.lua http://127.0.0.1:18010

local script_dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(script_dir .. "report.lua")

function init(args)
  math.randomseed(os.time())
end

function request()
  local p = math.random(1, 1000)
  local u = math.random(1, 2000000000)
  return wrk.format("POST", "/proposals/" .. p .. "/votes", { ["X-User"] = tostring(u) }, "")
end
