"""`cliniko-connector console`: a web page on 127.0.0.1 over the same use-cases as the CLI (status, the events
archive or a tail of the bus, the dead-letter queues, automations, connections). `backend` reads and changes the
stack; `app` is the Flask application (its pages, and what guards the writes); `server` binds it to loopback."""
