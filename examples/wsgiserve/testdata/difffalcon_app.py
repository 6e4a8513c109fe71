"""The Falcon app of the frameworks differential (diffframeworks_test.go):
the responders answer what Falcon computed of the request, as JSON."""

import os

import falcon

HERE = os.path.dirname(os.path.abspath(__file__))


def info(req, **extra):
    out = {
        "method": req.method,
        "path": req.path,
        "root_path": req.root_path,
        "uri": req.uri,
        "query": {k: req.get_param_as_list(k) for k in sorted(req.params)},
        "cookies": {k: req.get_cookie_values(k) for k in sorted(req.cookies)},
        "content_length": req.content_length,
        "content_type": req.content_type,
        "host": req.host,
        "remote_addr": req.remote_addr,
        "template": req.uri_template,
    }
    out.update(extra)
    return out


class Echo:
    def on_get(self, req, resp, **kw):
        resp.media = info(req, params={k: str(v) for k, v in kw.items()})

    on_head = on_delete = on_get

    def on_post(self, req, resp, **kw):
        resp.media = info(req, params=kw, form={k: req.get_param_as_list(k) for k in sorted(req.params)})


class Form:
    def on_post(self, req, resp):
        # The urlencoded body, as Falcon 3 reads it (req.get_media()).
        form = req.get_media()
        resp.media = info(req, form={k: v if isinstance(v, list) else [v] for k, v in sorted(form.items())})


class Json:
    def on_post(self, req, resp):
        resp.media = info(req, json=req.get_media())


class Data:
    def on_post(self, req, resp):
        body = req.bounded_stream.read()
        resp.media = info(req, length=len(body), head=body[:40].decode("latin-1"))


class Stream:
    def on_get(self, req, resp):
        n = req.get_param_as_int("n", default=3)
        resp.content_type = "text/plain"
        resp.stream = (("chunk %d\n" % i).encode() for i in range(n))


class Cookies:
    def on_get(self, req, resp):
        resp.set_cookie("a", "1", path="/", secure=False)
        resp.set_cookie("b", "two words", max_age=60, secure=False)
        resp.media = info(req)


class Abort:
    def on_get(self, req, resp, code):
        raise falcon.HTTPError(falcon.code_to_http_status(code), description="aborted with %d" % code)


class Boom:
    def on_get(self, req, resp):
        raise RuntimeError("boom")


class Redirect:
    def on_get(self, req, resp):
        raise falcon.HTTPFound("/i/target")


class Status:
    def on_get(self, req, resp, code):
        resp.status = falcon.code_to_http_status(code)
        resp.text = "body of %d" % code


class File:
    def on_get(self, req, resp):
        # A file object: Falcon hands it to wsgi.file_wrapper
        path = os.path.join(HERE, "diffflask_file.txt")
        resp.content_type = "text/plain"
        resp.set_stream(open(path, "rb"), os.path.getsize(path))


class StreamError:
    def on_get(self, req, resp):
        def gen():
            yield b"first\n"
            raise RuntimeError("mid-stream")

        resp.stream = gen()


app = falcon.App()
app.req_options.auto_parse_form_urlencoded = False
app.add_route("/i/{rest}", Echo())
app.add_route("/items/{n:int}", Echo())
app.add_route("/re/{code}.{f}", Echo())
app.add_route("/form", Form())
app.add_route("/json", Json())
app.add_route("/data", Data())
app.add_route("/stream", Stream())
app.add_route("/cookies/set", Cookies())
app.add_route("/abort/{code:int}", Abort())
app.add_route("/boom", Boom())
app.add_route("/redirect", Redirect())
app.add_route("/status/{code:int}", Status())
app.add_route("/file", File())
app.add_route("/stream/error", StreamError())
