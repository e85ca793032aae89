"""Read by gunicorn from the working directory; the Procfile's flags set the rest."""


def post_worker_init(worker):
    from app.sockets import start_listening
    from app.tasks import run_periodic_in_process

    # Listen on the message queue from the start, not from the first Socket.IO
    # connect: a process serving only raw /ws/ clients must hear remote emits too.
    start_listening()
    if not worker.wsgi.config["REDIS_URL"]:
        run_periodic_in_process(worker.wsgi)  # embedded mode: no Celery beat elsewhere
