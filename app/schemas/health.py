from marshmallow import Schema, fields, validate

STATES = validate.OneOf(["ok", "unavailable"])


class SocketCountsSchema(Schema):
    connections = fields.Integer(metadata={"description": "Raw /ws/ connections of this process."})
    socketio = fields.Integer(metadata={"description": "Socket.IO sessions of this process."})
    groups = fields.Integer(metadata={"description": "Groups with a subscriber in this process."})


class HealthSchema(Schema):
    status = fields.String(validate=validate.OneOf(["ok"]))
    websocket = fields.Nested(SocketCountsSchema)


class ChecksSchema(Schema):
    database = fields.String(validate=STATES, required=True)
    redis = fields.String(validate=STATES, metadata={"description": "Only when REDIS_URL is set.", "optional": True})


class ReadinessSchema(Schema):
    status = fields.String(validate=STATES)
    checks = fields.Nested(ChecksSchema)
