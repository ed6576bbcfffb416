"""A small, hand-written checker of responses against docs/openapi.json
(stdlib only): which documented operation a request hits, whether the status
is documented for it, and whether a JSON body fits the documented schema
(type, required, properties, items, enum, allOf, oneOf, $ref)."""

import json
import os
import re


def load_document():
    src = os.environ.get("GOTEL_SOURCE_DIR") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..")
    with open(os.path.join(src, "docs", "openapi.json")) as f:
        return json.load(f)


class Document:
    def __init__(self, doc):
        self.doc = doc
        # (compiled regex, template) for every documented path, literal paths first.
        self.paths = []
        for template in doc["paths"]:
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            self.paths.append((re.compile(pattern), template))
        self.paths.sort(key=lambda p: p[1].count("{"))

    def resolve(self, node):
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            assert ref.startswith("#/"), ref
            node = self.doc
            for part in ref[2:].split("/"):
                node = node[part]
        return node

    def template_for(self, path):
        path = path.split("?", 1)[0]
        for regex, template in self.paths:
            if regex.match(path):
                return template
        return None

    def operation(self, method, path):
        template = self.template_for(path)
        if template is None:
            return None, None
        item = self.doc["paths"][template]
        method = method.lower()
        return template, item.get(method)

    def check_response(self, method, path, status, content_type, body):
        """[] when the answer fits the document, else what does not."""
        head = method.upper() == "HEAD"
        template, op = self.operation("GET" if head else method, path)
        if template is None:
            if status == 404:
                return []  # an unknown path answered "not found": right
            return ["%s %s: path not documented" % (method, path)]
        if op is None:
            if status in (404, 405):
                return []
            return ["%s %s: method not documented for %s" % (method, path, template)]
        responses = op["responses"]
        spec = responses.get(str(status)) or responses.get("default")
        if spec is None:
            return ["%s %s: status %d not documented (has %s)"
                    % (method, path, status, sorted(responses))]
        spec = self.resolve(spec)
        content = spec.get("content")
        if not content or head:
            return []
        ctype = (content_type or "").split(";")[0].strip().lower()
        if ctype not in content:
            return ["%s %s %d: content type %r not documented (%s)"
                    % (method, path, status, ctype, sorted(content))]
        if ctype != "application/json":
            return []
        try:
            value = json.loads(body)
        except ValueError as e:
            return ["%s %s %d: body is not JSON: %s" % (method, path, status, e)]
        errors = []
        self.validate(value, content[ctype]["schema"], "%s %s %d: body" % (method, path, status),
                      errors)
        return errors

    def validate(self, value, schema, where, errors):
        schema = self.resolve(schema)
        if "allOf" in schema:
            for part in schema["allOf"]:
                self.validate(value, part, where, errors)
        if "oneOf" in schema:
            if not any(not self._errors(value, s, where) for s in schema["oneOf"]):
                errors.append("%s: matches none of oneOf" % where)
        t = schema.get("type")
        if value is None and schema.get("nullable"):
            return  # OpenAPI 3.0: null is allowed where the schema says nullable
        types = {"object": dict, "array": list, "string": str, "boolean": bool}
        if t == "integer":
            if not isinstance(value, int) or isinstance(value, bool):
                errors.append("%s: expected integer, got %r" % (where, value))
                return
        elif t == "number":
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                errors.append("%s: expected number, got %r" % (where, value))
                return
        elif t in types and not isinstance(value, types[t]):
            errors.append("%s: expected %s, got %r" % (where, t, value))
            return
        if "enum" in schema and value not in schema["enum"]:
            errors.append("%s: %r not in %r" % (where, value, schema["enum"]))
        if isinstance(value, dict):
            for key in schema.get("required", []):
                if key not in value:
                    errors.append("%s: required property %r missing" % (where, key))
            for key, sub in schema.get("properties", {}).items():
                if key in value:
                    self.validate(value[key], sub, "%s.%s" % (where, key), errors)
        if isinstance(value, list) and "items" in schema:
            for i, item in enumerate(value):
                self.validate(item, schema["items"], "%s[%d]" % (where, i), errors)

    def _errors(self, value, schema, where):
        out = []
        self.validate(value, schema, where, out)
        return out
