-- wrk script of the proactor benchmark. With an argument MS (`wrk ... -s wrk-latency.lua URL -- MS`)
-- each connection pauses after a response before it sends its next request (wrk's delay(), not
-- counted in the latency): a whole number of ms drawn uniformly from 0..2*MS, mean MS. A fixed
-- pause would lock the requests in step with the server's heavy work and make the percentiles
-- depend on the pause; a random one lands them anywhere in it. Without MS requests follow each
-- other at once. At the end it prints the run's counts and latency percentiles (microseconds,
-- from wrk's own histogram) as one JSON line.
init = function(args)
  local pause = tonumber(args[1] or "0") or 0
  if pause > 0 then
    math.randomseed(os.time())
    local most = math.floor(2 * pause + 0.5)
    delay = function() return math.random(0, most) end
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
