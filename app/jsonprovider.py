"""JSON bodies encoded with orjson: the same output as the standard library's (UTF-8,
keys in the order given), several times faster on the hot paths that answer big bodies
(a cached feed page is encoded on every hit). Decoding stays with the standard library,
whose errors the API's "JSON parse error" answers describe."""
import orjson
from flask.json.provider import DefaultJSONProvider


class OrjsonProvider(DefaultJSONProvider):
    sort_keys = False
    ensure_ascii = False

    def dumps(self, obj, **kwargs):
        try:
            return orjson.dumps(obj, default=self.default, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:  # what orjson refuses (an int beyond 64 bits...): the standard encoder
            return super().dumps(obj, **kwargs)

    def response(self, *args, **kwargs):
        obj = self._prepare_response_obj(args, kwargs)
        try:
            body = orjson.dumps(obj, default=self.default, option=orjson.OPT_NON_STR_KEYS)
        except TypeError:
            body = super().dumps(obj).encode()
        return self._app.response_class(body, mimetype=self.mimetype)
