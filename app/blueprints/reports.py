"""Reports: tell the moderators about a post, a comment or a user."""
from flask import Blueprint, current_app
from flask_jwt_extended import current_user

from app.blueprints import Dumped, endpoint, login_required
from app.schemas.moderation import ReportCreatedSchema, ReportInputSchema
from app.services import reports

bp = login_required(Blueprint("reports", __name__, url_prefix="/reports"))
_schema = ReportCreatedSchema()


@bp.post("/")
@endpoint("Report a post, a comment or a user", body=ReportInputSchema, response=ReportCreatedSchema, status=201,
          extra_responses=((200, "The caller's report on that object is still open: that report.",
                            ReportCreatedSchema),),
          description="`object_id`: the post's or comment's id (an integer), or the user's id. Unknown "
                      "object: 400 `{\"object_id\": [\"Object does not exist.\"]}`. Counted with the create "
                      "rate limit. A `self_harm` report carries `support_resources`.")
def create_report(data):
    report, created = reports.create_report(current_user, **data)
    body = reports.response_body(report, data["reason"], _schema, current_app.config["SUPPORT_RESOURCES"])
    return Dumped(body), 201 if created else 200
