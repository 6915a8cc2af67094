-- The HTTP load of one kind for wrk (bench.backend.load runs it; bench/loadgen.py is the Python twin it falls
-- back to): wrk -t 1 -c 8 -d 8s --latency -s bench/wrk/load.lua http://127.0.0.1:PORT -- KIND DATAFILE TAG
-- KIND is purchase, balance or validate; DATAFILE holds the member ids on its first line and the amounts
-- (cents) on its second; TAG starts every purchase's receipt. The bodies are bench/loadgen.py's request_for.
-- done() prints one JSON line: completed requests, the run's length, the statuses that were not 2xx and the
-- socket errors, and the latency percentiles (microseconds, every completed request).

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("index", #threads)
end

local function numbers(line)
  local found = {}
  for n in line:gmatch("%d+") do
    found[#found + 1] = tonumber(n)
  end
  return found
end

local kind, members, amounts, tag, sent

function init(args)
  kind, tag = args[1], args[3] .. "t" .. index .. "-"
  local file = assert(io.open(args[2]))
  members, amounts = numbers(file:read("*l")), numbers(file:read("*l"))
  file:close()
  math.randomseed(index)
  sent = 0
  statuses = {}  -- a global: done() reads it through the thread
end

local function pick(list)
  return list[math.random(#list)]
end

function request()
  sent = sent + 1
  local member = pick(members)
  if kind == "balance" then
    return wrk.format("GET", "/api/v1/members/" .. member .. "/balance")
  end
  local cents = pick(amounts)
  if kind == "validate" then
    return wrk.format("POST", "/api/v1/vouchers/validate", nil, string.format(
      '{"code": "BENCH10", "member_id": %d, "branch": "main", "items": [{"sku": "CD", "category": "pop", '
      .. '"quantity": 1, "unit_price": %d}]}', member, cents > 0 and cents or 100))
  end
  -- a receipt unique to this request: the thread's count, shared by its connections
  return wrk.format("POST", "/api/v1/purchases", nil, string.format(
    '{"member": {"member_id": %d}, "branch": "main", "receipt": "%s%d", "total": %d, "items": [{"sku": "CD", '
    .. '"category": "%s", "quantity": 1, "unit_price": %d}]}',
    member, tag, sent, cents, sent % 5 == 0 and "classical" or "pop", cents))
end

function response(status)
  if status < 200 or status > 299 then
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency)
  local counts = {}
  for name, count in pairs(summary.errors) do
    if name ~= "status" and count > 0 then  -- wrk's status count is only > 399: ours are counted above
      counts[name] = count
    end
  end
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      counts[tostring(status)] = (counts[tostring(status)] or 0) + count
    end
  end
  local errors = {}
  for name, count in pairs(counts) do
    errors[#errors + 1] = string.format('"%s": %d', name, count)
  end
  print(string.format('{"requests": %d, "duration_us": %d, "errors": {%s}, "p50_us": %d, "p95_us": %d, '
    .. '"p99_us": %d}', summary.requests, summary.duration, table.concat(errors, ", "),
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
