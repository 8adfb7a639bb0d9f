-- wrk script for bench/scale/run.py: rotates through a list of requests and writes a report.
--
-- args[1]: a file of "<api key>\t<path>" lines, in the order to send them (run.py shuffles it
-- with a fixed seed, so ours and the ceiling get the same sequence).
-- WRK_REPORT (environment): where to write the report: a first line
-- "requests duration_us bytes connect read write status timeout", then the latency in microseconds at
-- the 1000 quantiles 0.05 %, 0.15 %, ..., 99.95 % (each stands for 0.1 % of the requests), so
-- run.py can merge rounds. (wrk's Lua API gives percentiles, not the raw histogram.)

local requests = {}
local counter = 0

init = function(args)
  local file = assert(io.open(args[1], "r"))
  for line in file:lines() do
    local key, path = line:match("^([^\t]+)\t(.+)$")
    if key then
      requests[#requests + 1] = wrk.format("GET", path, { ["Authorization"] = "Bearer " .. key })
    end
  end
  file:close()
end

request = function()
  counter = counter + 1
  return requests[(counter - 1) % #requests + 1]
end

done = function(summary, latency, _)
  local out = assert(io.open(os.getenv("WRK_REPORT"), "w"))
  local e = summary.errors
  out:write(string.format("%d %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
    summary.bytes, e.connect, e.read, e.write, e.status, e.timeout))
  for i = 0, 999 do
    out:write(string.format("%d\n", latency:percentile(i / 10 + 0.05)))
  end
  out:close()
end
