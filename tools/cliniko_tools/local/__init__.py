"""The local stack: template.yaml's tables, queues, bus and rules on a moto server, and a runner that
invokes the functions' handlers in-process the way Lambda would (moto can't run Lambda code).

    cliniko-connector local moto            # terminal 1: a moto server on a free loopback port
    export AWS_ENDPOINT_URL=http://127.0.0.1:PORT
    cliniko-connector local up              # create what template.yaml declares
    cliniko-connector local run             # fire schedules, drain queues, invoke handlers; Ctrl-C stops
"""
