-- wrk script of the http benchmark. With an argument N (`wrk ... -s wrk-report.lua URL -- N`)
-- every write carries N copies of the request, like TechEmpower's pipeline.lua; without one,
-- plain keep-alive requests. At the end it prints the run's summary as one JSON line (wrk's own
-- text rounds bytes and durations).
init = function(args)
  local depth = tonumber(args[1] or "1") or 1
  if depth > 1 then
    local r = {}
    for i = 1, depth do r[i] = wrk.format() end
    local req = table.concat(r)
    request = function() return req end
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"bytes":%d,"durationUs":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, summary.bytes, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout))
end
