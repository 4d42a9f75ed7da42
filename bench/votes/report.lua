-- Shared by quorum.lua and reference.lua (loaded with dofile): counts every response by
-- status and outcome, and prints one "BENCH_JSON {...}" line at the end for summarize.py.
--
-- Outcome of a response: "vote" or "comment" for a 2xx (told apart by the body: only a
-- comment has "proposal_id" at its top level), else the problem+json "code" (Quorum: already_voted, ...),
-- else "other" (the references answer {"detail": ...}).

counts = {}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function response(status, headers, body)
  local outcome
  if status < 300 then
    outcome = (body and body:find('^{"id":"[^"]*","proposal_id"')) and "comment" or "vote"
  else
    outcome = body and body:match('"code":"([%w_]+)"') or "other"
  end
  local key = status .. " " .. outcome
  counts[key] = (counts[key] or 0) + 1
end

local function json_counts(all)
  local parts = {}
  for key, n in pairs(all) do
    table.insert(parts, string.format('"%s": %d', key, n))
  end
  table.sort(parts)
  return "{" .. table.concat(parts, ", ") .. "}"
end

function done(summary, latency, requests)
  local all = {}
  for _, thread in ipairs(threads) do
    for key, n in pairs(thread:get("counts")) do
      all[key] = (all[key] or 0) + n
    end
  end
  local e = summary.errors
  local line = string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"latency_us": {"mean": %.0f, "p50": %d, "p90": %d, "p99": %d, "p999": %d, "max": %d}, '
      .. '"outcomes": %s}',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, json_counts(all))
  io.write("BENCH_JSON " .. line .. "\n")
end
