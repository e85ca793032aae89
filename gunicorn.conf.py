"""Read by gunicorn from the working directory; the Procfile's flags set the rest."""


def post_worker_init(worker):
    from app.sockets import start_listening
    from app.tasks import run_periodic_in_process

    start_listening(worker.wsgi)  # deliver the event log's messages to this process's clients
    if not worker.wsgi.config["REDIS_URL"]:
        run_periodic_in_process(worker.wsgi)  # embedded mode: no Celery beat elsewhere
