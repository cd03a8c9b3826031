-- wrk script of the proactor benchmark. With an argument MS (`wrk ... -s wrk-latency.lua URL -- MS`)
-- each connection waits MS ms after a response before it sends its next request (wrk's delay(),
-- not counted in the latency); without one, requests follow each other at once. At the end it
-- prints the run's counts and latency percentiles (microseconds, from wrk's own histogram) as
-- one JSON line.
local pause = 0

init = function(args)
  pause = tonumber(args[1] or "0") or 0
  if pause > 0 then
    delay = function() return pause end
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"bytes":%d,"durationUs":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latencyUs":{"min":%d,"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.bytes, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9)))
end
