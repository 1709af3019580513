-- wrk script for bench/serve_load.py: POST /v1/translate, one sentence per request.
--
--   wrk -t1 -c8 -d10s --latency -s bench/wrk_translate.lua \
--       http://127.0.0.1:8000/v1/translate -- <beam> <sentence> [<sentence> ...]
--
-- Each request's JSON body is {"text": <sentence>, "beam_size": <beam>}; every wrk thread
-- rotates over the sentences in order (wrk calls request() once before the run to check
-- it, so the first thread starts at the second sentence). Responses outside 200..299 are counted per thread
-- (wrk's own errors.status counts only status > 399). done() prints one line:
--   wrk-summary {"requests":N,"duration_us":N,"errors":{...},"latency_ms":{...},
--                "requests_per_second":X}
-- Latency percentiles are wrk's (its histogram includes wrk's coordinated-omission
-- correction); they are in milliseconds; requests_per_second counts every completed
-- response, errors included.

local threads = {}

-- A JSON string literal: quotes, backslashes and control characters escaped (RFC 8259 s. 7).
local function json_string(text)
  local escaped = text:gsub('[%c"\\]', function(char)
    if char == '"' then
      return '\\"'
    elseif char == "\\" then
      return "\\\\"
    end
    return string.format("\\u%04x", char:byte())
  end)
  return '"' .. escaped .. '"'
end

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local beam = tonumber(args[1])
  if beam == nil or #args < 2 then
    error("usage: -- <beam> <sentence> [<sentence> ...]")
  end
  local headers = { ["Content-Type"] = "application/json" }
  requests_prepared = {}
  for index = 2, #args do
    local body = string.format('{"text": %s, "beam_size": %d}', json_string(args[index]), beam)
    table.insert(requests_prepared, wrk.format("POST", nil, headers, body))
  end
  next_request = 0
  non_2xx = 0
end

function request()
  next_request = next_request % #requests_prepared + 1
  return requests_prepared[next_request]
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non_2xx = non_2xx + 1
  end
end

function done(summary, latency, requests)
  local non_2xx_total = 0
  for _, thread in ipairs(threads) do
    non_2xx_total = non_2xx_total + thread:get("non_2xx")
  end
  local errors = summary.errors
  local seconds = summary.duration / 1e6
  local rate = seconds > 0 and summary.requests / seconds or 0
  io.write(string.format(
    'wrk-summary {"requests":%d,"duration_us":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d,"non_2xx":%d},'
      .. '"latency_ms":{"p50":%.3f,"p95":%.3f,"p99":%.3f},"requests_per_second":%.3f}\n',
    summary.requests, summary.duration,
    errors.connect, errors.read, errors.write, errors.timeout, errors.status, non_2xx_total,
    latency:percentile(50) / 1e3, latency:percentile(95) / 1e3, latency:percentile(99) / 1e3,
    rate
  ))
end
