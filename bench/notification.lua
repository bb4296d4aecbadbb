-- wrk script: POST a notification with a unique OrderId on every request.
-- Arguments (after --): <numbers per body> <Authorization value> <run tag>
-- Prints one JSON line with requests, duration and latency percentiles when done.

local counter = 0
thread_id = 0  -- set per thread by setup()
local threads = {}
local head, tail

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  local count = tonumber(args[1])
  local numbers = {}
  for i = 1, count do
    numbers[i] = string.format("<TelephoneNumber>%010d</TelephoneNumber>", 9190000000 + i)
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/xml; charset=utf-8"
  wrk.headers["Authorization"] = args[2]
  tag = args[3]
  head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Notification>'
    .. "<Status>COMPLETE</Status><SubscriptionId>bench-subscription</SubscriptionId>"
    .. "<Message>Created a new number order for " .. count .. " number(s)</Message>"
    .. "<OrderType>orders</OrderType><OrderId>"
  tail = "</OrderId><CompletedTelephoneNumbers>" .. table.concat(numbers)
    .. "</CompletedTelephoneNumbers></Notification>"
end

function request()
  counter = counter + 1
  local body = head .. tag .. "-" .. thread_id .. "-" .. counter .. tail
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "non_2xx": %d, '
      .. '"socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
