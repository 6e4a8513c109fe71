"""Serve module:callable on Tornado's WSGIContainer (one process, one
thread), for graft's benchmark suite. usage: tornado_serve.py module:callable PORT"""
import asyncio
import importlib
import sys

import tornado.httpserver
import tornado.wsgi

mod, attr = sys.argv[1].split(":")
app = getattr(importlib.import_module(mod), attr)


async def main():
    server = tornado.httpserver.HTTPServer(tornado.wsgi.WSGIContainer(app), max_body_size=64 << 20)
    server.listen(int(sys.argv[2]), "127.0.0.1")
    await asyncio.Event().wait()


asyncio.run(main())
