"""A Bottle app for the migration inventory tests: a tag route whose
regex filter is \d+."""

import bottle

app = bottle.Bottle()


@app.get(r"/api/tags/<tag:re:\d+>", name="tag")
def tag(tag):
    return {"id": tag, "served_by": "python"}
