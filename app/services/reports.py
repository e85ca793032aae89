"""Reports: anyone may report a post, a comment or a user, once at a time per object.

A reporter's report stays the one open report of theirs on that object
(``Report.open_key``, unique): reporting it again while it is open answers that report
(200), whatever the reason, even under concurrency. A self-harm report carries the
deployment's support resources, so the reporter's client can show them at once.
"""
from sqlalchemy import select

from app.errors import APIError, NotFound, field_error
from app.extensions import db
from app.models.base import utcnow
from app.models.moderation import OPEN, SELF_HARM, USER, Report
from app.models.reactions import VENTPOST
from app.models.users import User
from app.services import posts, threads
from app.services.ids import in_range
from app.services.sql import insert_on_conflict

OBJECT_MISSING = "Object does not exist."


def _target(reporter, content_type, object_id):
    """The column values naming the reported object, if it exists for the reporter; a
    block does not stop a report (what harmed them is what they report)."""
    if content_type == USER:
        if db.session.get(User, object_id) is None:
            return None
        return {"target_user_id": object_id}
    if not in_range(object_id):
        return None
    if content_type == VENTPOST:
        try:
            posts.readable_post(object_id, reporter, blocks=False)
        except NotFound:
            return None
        return {"post_id": object_id}
    thread = threads.thread_of(object_id)
    if thread is None or thread.post is None or threads.hidden_from(thread, reporter):
        return None
    return {"comment_id": object_id}


def open_key(reporter_id, content_type, object_id):
    return f"{reporter_id}:{content_type}:{object_id}"


def create_report(reporter, *, content_type, object_id, reason, details=None):
    """``(report, created)``: a new open report, or the reporter's open one on that object."""
    reporter = posts.viewer_of(reporter)
    target = _target(reporter, content_type, object_id)
    if target is None:
        db.session.rollback()
        raise field_error("object_id", OBJECT_MISSING)
    key = open_key(reporter.id, content_type, object_id)
    statement = (insert_on_conflict()(Report)
                 .values(reporter_id=reporter.id, content_type=content_type, reason=reason, details=details,
                         status=OPEN, open_key=key, created_at=utcnow(), **target)
                 .on_conflict_do_nothing(index_elements=["open_key"]).returning(Report.id))
    report_id = db.session.execute(statement).scalar()
    db.session.commit()
    created = report_id is not None
    report = db.session.scalar(select(Report).where(Report.id == report_id) if created
                               else select(Report).where(Report.open_key == key))
    if report is None:  # resolved between the insert and this read: report again
        raise APIError({"detail": "The report could not be stored. Try again."}, status=409)
    return report, created


def response_body(report, requested_reason, schema, resources):
    """The report as answered; with the support resources when it, or this request, is
    about self-harm."""
    body = schema.dump(report)
    if SELF_HARM in (report.reason, requested_reason):
        body["support_resources"] = resources
    return body
