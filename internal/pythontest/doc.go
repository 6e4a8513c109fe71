// Package pythontest holds the test helpers graft's packages share for
// the Python side: the interpreter a test runs (Python), which fails the
// test, never skips it, with the apt-get line to run when the interpreter
// or a module is missing, and a concurrency-safe Buffer for the logs and
// output of the workers and other processes a test starts, and an Oracle,
// a Python process answering JSON questions for fuzz tests, and Gunicorn,
// a real gunicorn for tests that compare graft with it, and Waitress,
// UWSGIOn and TornadoOn, a real waitress, uWSGI and Tornado WSGIContainer for
// more opinions. Only tests import it.
package pythontest
