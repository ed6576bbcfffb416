-- wrk script: durable checkins spread over app1..app1000 (component "c"); see wrk-checkin.sh.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  return wrk.format(nil, nil, nil, '{"app":"app' .. math.random(1, 1000) .. '","component":"c","notes":"wrk"}')
end
