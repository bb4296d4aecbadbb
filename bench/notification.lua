-- wrk script: POST a notification with a unique OrderId and new numbers on every request
-- (each order orders numbers nobody had: the order book creates their rows, as a real
-- order's would; the same numbers every time would measure moving one number only).
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

local count = 1
local run_base = 0

function init(args)
  count = tonumber(args[1])
  -- A different block of numbers for each run and thread (10-digit NANP, 2xx-9xx).
  run_base = (tonumber(string.sub(args[3], -9)) or 0) % 50 * 100000000
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/xml; charset=utf-8"
  wrk.headers["Authorization"] = args[2]
  tag = args[3]
  head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Notification>'
    .. "<Status>COMPLETE</Status><SubscriptionId>bench-subscription</SubscriptionId>"
    .. "<Message>Created a new number order for " .. count .. " number(s)</Message>"
    .. "<OrderType>orders</OrderType><OrderId>"
  tail = "</CompletedTelephoneNumbers></Notification>"
end

function request()
  counter = counter + 1
  local first = 2000000000 + (run_base + thread_id * 20000000 + counter * count) % 7000000000
  local numbers = {}
  for i = 1, count do
    numbers[i] = string.format("<TelephoneNumber>%010d</TelephoneNumber>", first + i)
  end
  local body = head .. tag .. "-" .. thread_id .. "-" .. counter
    .. "</OrderId><CompletedTelephoneNumbers>" .. table.concat(numbers) .. tail
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
