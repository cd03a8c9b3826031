-- wrk script of the site benchmark: logged-in reads or writes on the demo site's JSON API.
--   wrk ... -s wrk-site.lua URL -- get SID      GET /api/messages with the session cookie
--   wrk ... -s wrk-site.lua URL -- post SID     POST /api/messages {"text": "..."}, cookie too
-- At the end it prints one JSON line: counts, errors, non-2xx answers and latency percentiles
-- in microseconds (wrk's own text rounds them).
init = function(args)
  local mode = args[1] or "get"
  local sid = args[2] or ""
  local headers = { ["Cookie"] = "sid=" .. sid }
  if mode == "post" then
    headers["Content-Type"] = "application/json"
    local n = 0
    request = function()
      n = n + 1
      return wrk.format("POST", "/api/messages", headers, '{"text":"benchmark post ' .. n .. ' from wrk"}')
    end
  else
    local req = wrk.format("GET", "/api/messages", headers)
    request = function() return req end
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"bytes":%d,"durationUs":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latencyUs":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.bytes, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
