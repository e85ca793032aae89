from flask import Blueprint
from flask_jwt_extended import create_access_token, create_refresh_token, current_user, jwt_required

from app.blueprints import request_data
from app.schemas.users import LoginSchema, MeSchema, ProfileUpdateSchema, RegisterSchema
from app.services import users

bp = Blueprint("auth", __name__, url_prefix="/auth")
me_schema = MeSchema()


def token_response(user, status):
    body = {
        "user": me_schema.dump(user),
        "access_token": create_access_token(identity=user.id),
        "refresh_token": create_refresh_token(identity=user.id),
    }
    return body, status


@bp.post("/register")
def register():
    data = RegisterSchema().load(request_data())
    return token_response(users.create_user(**data), 201)


@bp.post("/login")
def login():
    data = LoginSchema().load(request_data())
    return token_response(users.authenticate(data["email"], data["password"]), 200)


@bp.post("/refresh")
@jwt_required(refresh=True)
def refresh():
    return {"access_token": create_access_token(identity=current_user.id)}


@bp.get("/me")
@jwt_required()
def me():
    return me_schema.dump(current_user)


@bp.route("/me", methods=["PATCH", "PUT"])
@jwt_required()
def update_me():
    raw = request_data()
    data = ProfileUpdateSchema().load(raw)
    photo = data.get("profile_photo")
    user = users.update_profile(
        current_user,
        display_name=data.get("display_name"),
        photo_upload=photo,
        clear_photo="profile_photo" in raw and photo is None,
    )
    return me_schema.dump(user)
