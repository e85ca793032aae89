"""Read by gunicorn from the working directory; the Procfile's flags set the rest."""


def post_worker_init(worker):
    # Listen on the message queue from the start, not from the first Socket.IO
    # connect: a process serving only raw /ws/ clients must hear remote emits too.
    from app.sockets import start_listening

    start_listening()
