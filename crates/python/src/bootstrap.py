# faastlane's Python side, compiled once per process as module `_faastlane`.
#
# Rust does the hot path (calls, conversions); this module holds what is simpler and safer in
# Python: the sys.stdout/sys.stderr replacements, importing a function's module from a workflow
# directory, and describing an exception the way AWS Lambda does.
#
# Global state (documented for the fork server): `_modules`, the module cache keyed by
# (workflow directory, module name); the two stream objects installed as sys.stdout and
# sys.stderr; the workflow directories and site directories inserted into sys.path.

# Only what every process needs is imported here: `ast` (static checks), `json` (Lambda
# responses), `logging` (the root handler, installed when a function first imports it) and
# `pickle` (process lanes) are imported when first used, so that a cold start does not pay
# for them (about 30 ms together on a loaded 2-vCPU machine, `PYTHONPROFILEIMPORTTIME=1`).
import faulthandler
import importlib
import importlib.machinery
import _faastlane_signature as _signature
import io
import os
import site
import sys
import time
import traceback


class TaskTimedOut(BaseException):
    """Raised inside a function whose Task ran past its TimeoutSeconds.

    A BaseException, like KeyboardInterrupt, so that `except Exception:` in user code does not
    swallow it.
    """


class LoadError(Exception):
    """A function could not be loaded: `kind` says why, `file` and `line` say where."""

    def __init__(self, kind, error_type, message, file=None, line=None):
        super().__init__(message)
        self.kind = kind
        self.error_type = error_type
        self.message = message
        self.file = file
        self.line = line


# ---------------------------------------------------------------------------------------------
# Output: print() and logging reach the LogSink of the call running on the current thread.


class _Binary(io.RawIOBase):
    """`sys.stdout.buffer`: bytes are decoded as UTF-8 and routed like text."""

    def __init__(self, text):
        self._text = text

    def writable(self):
        return True

    def write(self, b):
        data = bytes(b)
        self._text.write(data.decode("utf-8", "replace"))
        return len(data)


class _Stream(io.TextIOBase):
    """A text stream whose writes go to the current call's log sink (see output.rs)."""

    def __init__(self, emit, index, name):
        self._emit = emit
        self._index = index
        self._name = name
        self._buffer = _Binary(self)

    @property
    def name(self):
        return self._name

    @property
    def encoding(self):
        return "utf-8"

    @property
    def errors(self):
        return "replace"

    @property
    def buffer(self):
        return self._buffer

    @property
    def line_buffering(self):
        return True

    def writable(self):
        return True

    def isatty(self):
        return False

    def fileno(self):
        raise io.UnsupportedOperation("faastlane routes this stream to the task log; it has no file descriptor")

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not " + type(s).__name__)
        self._emit(self._index, s)
        return len(s)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        pass


def _install_log_handler(request_id):
    """Like Lambda's Python runtime: a handler on the root logger, whose level stays WARNING
    until the function sets it, formatted as Lambda's text log format. Each record goes to the
    task log of the call running on the writing thread (tagged with its state, as prints are),
    via sys.stderr as it is now."""
    import logging

    class _RequestIdFilter(logging.Filter):
        """Adds `aws_request_id` to every record, as Lambda's runtime does."""

        def filter(self, record):
            record.aws_request_id = request_id()
            return True

    class _LogHandler(logging.Handler):
        def emit(self, record):
            try:
                sys.stderr.write(self.format(record))
            except Exception:
                self.handleError(record)

    handler = _LogHandler()
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
        "%Y-%m-%dT%H:%M:%S",
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(_RequestIdFilter())
    logging.getLogger().addHandler(handler)


class _LoggingHook:
    """A meta path finder that installs the root logger's handler right after `logging` is
    first imported (by a function or a library), then removes itself: the same handler as an
    eager install, without importing `logging` for workflows that never log."""

    def __init__(self, request_id):
        self._request_id = request_id

    def find_spec(self, name, path=None, target=None):
        if name != "logging":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            # CPython's `logging` is a plain source module; one that is not (a frozen or
            # zipped stdlib) is imported without the handler: records then go to Python's
            # last-resort handler on stderr, without Lambda's format.
            return spec
        exec_module = spec.loader.exec_module
        request_id = self._request_id

        def exec_and_install(module):
            exec_module(module)
            _install_log_handler(request_id)

        spec.loader.exec_module = exec_and_install
        return spec


def _install_log_handler_when_imported(request_id):
    if "logging" in sys.modules:
        _install_log_handler(request_id)
    else:
        sys.meta_path.insert(0, _LoggingHook(request_id))


def setup(emit, executable, copy_buffer, request_id):
    """Once per process: the output streams, the root logger's handler, and a real
    interpreter as sys.executable (an embedded interpreter guesses it from PATH, which may
    find a pyenv shim or nothing)."""
    global _copy_buffer
    _copy_buffer = copy_buffer
    sys.stdout = _Stream(emit, 1, "<stdout>")
    sys.stderr = _Stream(emit, 2, "<stderr>")
    _install_log_handler_when_imported(request_id)
    # A crash in native code (a segfault in a C extension, ctypes) then at least prints the
    # Python stack of every thread on fd 2 before the process dies.
    faulthandler.enable(file=2, all_threads=True)
    if os.path.isfile(executable):
        sys.executable = executable
    if not sys.argv:
        sys.argv[:] = [""]


# ---------------------------------------------------------------------------------------------
# sys.path


def add_workflow_dir(directory):
    """Puts `directory` first on sys.path (moving it there if it is already present)."""
    while directory in sys.path:
        sys.path.remove(directory)
    sys.path.insert(0, directory)


def _global_site_dirs():
    """The interpreter's own site-packages (system and user), as they appear on sys.path."""
    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    return {os.path.realpath(d) for d in dirs}


def add_site_dir(directory, after, executable):
    """Adds a virtualenv's site-packages (processing its .pth files) right after `after`, and
    makes the virtualenv's interpreter sys.executable (the last runtime created wins).

    A workflow with requirements imports from its own environment and the standard library
    only, as on Lambda: the interpreter's global site-packages leave sys.path, so a
    dependency missing from requirements.txt fails here, not after deploying."""
    if os.path.isfile(executable):
        sys.executable = executable
    global_dirs = _global_site_dirs()
    sys.path[:] = [p for p in sys.path if os.path.realpath(p or ".") not in global_dirs]
    importlib.invalidate_caches()
    before = list(sys.path)
    site.addsitedir(directory)
    added = [p for p in sys.path if p not in before]
    for p in added:
        sys.path.remove(p)
    at = sys.path.index(after) + 1 if after in sys.path else 0
    sys.path[at:at] = added


# ---------------------------------------------------------------------------------------------
# Loading functions

_modules = {}


def _local_entry(directory, top):
    """The file or package directory that defines top-level module `top` in `directory`."""
    path = os.path.join(directory, top + ".py")
    if os.path.isfile(path):
        return path
    package = os.path.join(directory, top)
    if os.path.isdir(package):
        return package
    return None


def _module_file(directory, name):
    top, _, rest = name.partition(".")
    base = os.path.join(directory, *name.split("."))
    for candidate in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.isfile(candidate):
            return candidate
    return _local_entry(directory, top) or os.path.join(directory, top + ".py")


def _belongs(module, directory):
    paths = []
    file = getattr(module, "__file__", None)
    if file:
        paths.append(file)
    paths.extend(getattr(module, "__path__", None) or [])
    prefix = directory.rstrip(os.sep) + os.sep
    return any(os.path.realpath(p).startswith(prefix) for p in paths)


def _family(top):
    return [k for k in sys.modules if k == top or k.startswith(top + ".")]


def _innermost_frame_in(tb, directory):
    """(file, line) of the innermost traceback frame whose file is under `directory`."""
    prefix = directory.rstrip(os.sep) + os.sep
    found = (None, None)
    for frame in traceback.extract_tb(tb):
        if os.path.realpath(frame.filename).startswith(prefix):
            found = (frame.filename, frame.lineno)
    return found


def _raised_in(e, directory, file, kind, error_type, describe):
    """The LoadError for exception `e` raised while importing `file`: at the innermost frame
    of `e` in the workflow `directory` (else `file`), whose "file line N" `describe` puts in
    the message."""
    f, line = _innermost_frame_in(e.__traceback__, directory)
    f = f or file
    where = f if line is None else "%s line %d" % (f, line)
    return LoadError(kind, error_type, describe(where), f, line)


def _import(directory, name):
    top = name.partition(".")[0]
    local = _local_entry(directory, top)
    file = _module_file(directory, name) if local else None
    # Another workflow directory may have imported a module of the same name: set it aside
    # while ours imports, then give the name back to the first owner (ours stays in _modules).
    set_aside = {}
    existing = sys.modules.get(top)
    if local is not None and existing is not None and not _belongs(existing, directory):
        for k in _family(top):
            set_aside[k] = sys.modules.pop(k)
    add_workflow_dir(directory)
    # Files may have appeared since a finder last listed the directory.
    importlib.invalidate_caches()
    try:
        return importlib.import_module(name)
    except SyntaxError as e:
        where = e.filename or file
        raise LoadError(
            "syntax",
            "Runtime.UserCodeSyntaxError",
            "syntax error in %s line %s: %s" % (where, e.lineno, e.msg),
            where,
            e.lineno,
        ) from None
    except ImportError as e:
        missing = getattr(e, "name", None) or ""
        if (
            isinstance(e, ModuleNotFoundError)
            and local is None
            and (name == missing or name.startswith(missing + "."))
        ):
            raise LoadError(
                "missing-module",
                "Runtime.ImportModuleError",
                "no module '%s': expected %s or %s"
                % (name, os.path.join(directory, top + ".py"), os.path.join(directory, top, "__init__.py")),
            ) from None
        raise _raised_in(
            e, directory, file, "import", "Runtime.ImportModuleError",
            lambda where: "cannot import module '%s' (%s): %s" % (name, where, e),
        ) from None
    except BaseException as e:
        raise _raised_in(
            e, directory, file, "init", type(e).__name__,
            lambda where: "importing module '%s' raised %s (%s): %s"
            % (name, type(e).__name__, where, _safe_str(e)),
        ) from None
    finally:
        if set_aside:
            for k in _family(top):
                del sys.modules[k]
            sys.modules.update(set_aside)


def load_module(directory, name):
    key = (directory, name)
    module = _modules.get(key)
    if module is None:
        module = _import(directory, name)
        _modules[key] = module
    return module


def resolve(directory, module_name, attribute):
    """(callable, arity, file) for a function, or LoadError."""
    module = load_module(directory, module_name)
    file = getattr(module, "__file__", None) or module_name
    if attribute is None:
        for candidate, default in (("handler", 2), ("main", 1)):
            f = getattr(module, candidate, None)
            if f is not None:
                attribute = candidate
                break
        else:
            raise LoadError(
                "missing-function",
                "Runtime.HandlerNotFound",
                "%s defines neither handler(event, context) nor main(args)" % file,
                file,
            )
    else:
        default = 2
        f = getattr(module, attribute, None)
        if f is None:
            raise LoadError(
                "missing-function",
                "Runtime.HandlerNotFound",
                "%s has no function '%s'" % (file, attribute),
                file,
            )
    if not callable(f):
        raise LoadError(
            "missing-function",
            "Runtime.HandlerNotFound",
            "%s: '%s' is not callable (it is a %s)" % (file, attribute, type(f).__name__),
            file,
        )
    arity = _signature.arity(f, default)
    if arity == 0:
        raise LoadError(
            "bad-signature",
            "Runtime.HandlerNotFound",
            "%s: '%s' must accept (event, context) or (args)" % (file, attribute),
            file,
        )
    return f, arity, file


# ---------------------------------------------------------------------------------------------
# Errors, as AWS Lambda's Python runtime reports them


def _safe_str(e):
    try:
        return str(e)
    except BaseException:
        return "<str() of %s failed>" % type(e).__name__


TASK_ROOT = "/var/task"


def _as_deployed(filename, directory):
    """The path a file of the workflow directory has in a Lambda deployment, where the
    directory is the task root (/var/task); other paths stay as they are."""
    if directory:
        prefix = directory.rstrip(os.sep) + os.sep
        for candidate in (filename, os.path.realpath(filename)):
            if candidate.startswith(prefix):
                return TASK_ROOT + "/" + candidate[len(prefix):].replace(os.sep, "/")
    return filename


def describe_exception(e, tb, directory=None):
    """(errorType, errorMessage, stackTrace) like Lambda's Python runtime: the stack trace
    is traceback.format_list of the frames from the handler's down, with the workflow
    directory's files under /var/task."""
    frames = traceback.extract_tb(tb if tb is not None else e.__traceback__)
    for frame in frames:
        frame.filename = _as_deployed(frame.filename, directory)
    return type(e).__name__, _safe_str(e), traceback.format_list(frames)


def lambda_response(obj, measure):
    """What a function's result becomes as the response body Lambda's Python runtime sends:
    (replaced, payload, body length). `bytes` are the body itself, which Step Functions parses
    as JSON when it is JSON and keeps as a string otherwise (replaced is True); anything
    else is json.dumps'd (the length only when `measure`; raises when it does not encode)."""
    import json

    if isinstance(obj, bytes):
        body = bytes(obj)
        try:
            return True, json.loads(body), len(body)
        except ValueError:
            return True, body.decode("utf-8", "replace"), len(body)
    if not measure:
        return False, None, None
    return False, None, len(json.dumps(obj).encode("utf-8"))


def exit_code(e):
    """The exit status a SystemExit would give the process, and what it would print."""
    code = e.code
    if code is None:
        return 0, None
    if isinstance(code, int):
        return code, None
    return 1, _safe_str(code)


# ---------------------------------------------------------------------------------------------
# Process lanes: values cross to another process as pickle protocol 5, large buffers out of
# band (see lane.rs). Rust wraps large bytes, bytearray and memoryview objects in _OutOfBand
# first, since the pickler never asks a reducer about exact bytes; numpy arrays hand out
# their buffers by themselves.


class _OutOfBand:
    __slots__ = ("obj", "kind")

    def __init__(self, obj, kind):
        self.obj = obj
        self.kind = kind

    def __reduce_ex__(self, protocol):
        import pickle

        return (_rebuild_out_of_band, (self.kind, pickle.PickleBuffer(self.obj)))


_copy_buffer = None


def _rebuild_out_of_band(kind, buffer):
    # `buffer` is a memoryview of the mapped payload: bytes and bytearray own their storage,
    # so they copy once (in Rust, see lane.rs); a memoryview stays a view of the mapping.
    if kind == 0:
        return _copy_buffer(buffer, False)
    if kind == 1:
        return _copy_buffer(buffer, True)
    return memoryview(buffer)


def out_of_band(obj, kind):
    return _OutOfBand(obj, kind)


def lane_dumps(obj, minimum):
    """(pickle stream, [raw contiguous memoryview of each out-of-band buffer])."""
    buffers = []

    def keep(buffer):
        raw = buffer.raw()
        if raw.nbytes < minimum or not raw.contiguous:
            return True  # in band
        buffers.append(raw)
        return None

    import pickle

    stream = pickle.dumps(obj, protocol=5, buffer_callback=keep)
    return stream, buffers


def lane_loads(stream, buffers):
    import pickle

    return pickle.loads(stream, buffers=buffers)


def lane_map(fd, length):
    import mmap

    return memoryview(mmap.mmap(fd, length, access=mmap.ACCESS_COPY))


# ---------------------------------------------------------------------------------------------
# Checking functions without running them (`faastlane validate`)


def _top_level(body):
    """The statements that run when a module is imported, into `if` and `try` blocks."""
    import ast

    for node in body:
        yield node
        for field in ("body", "orelse", "finalbody"):
            if isinstance(node, (ast.If, ast.Try)) and getattr(node, field, None):
                yield from _top_level(getattr(node, field))
        for handler in getattr(node, "handlers", None) or []:
            yield from _top_level(handler.body)


def _accepts(args, n):
    positional = len(args.posonlyargs) + len(args.args)
    required = positional - len(args.defaults)
    kw_required = sum(1 for d in args.kw_defaults if d is None)
    return kw_required == 0 and required <= n and (n <= positional or args.vararg is not None)


def check_static(directory, module_name, attribute):
    """What is wrong with a function that can be told from its source (module missing, syntax
    error, no such function, a signature that fits neither (event, context) nor (args)), or
    None. The module is parsed, never imported: nothing of it runs."""
    import ast

    path = _module_file(directory, module_name)
    if os.path.isdir(path):
        path = os.path.join(path, "__init__.py")
    if not os.path.isfile(path):
        return "no module '%s' in %s" % (module_name, directory)
    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read(), path)
    except SyntaxError as e:
        return "%s:%s: %s" % (path, e.lineno, e.msg)
    except (OSError, ValueError) as e:
        return "%s: %s" % (path, e)
    defined = {}
    opaque = False
    for node in _top_level(tree.body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            defined[node.name] = node
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    opaque = True
                defined[(alias.asname or alias.name).split(".")[0]] = None
        elif isinstance(node, ast.ClassDef):
            defined[node.name] = None
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        defined[name.id] = None
    if attribute is None:
        for candidate, arity in (("handler", 2), ("main", 1)):
            if candidate in defined:
                attribute = candidate
                break
        else:
            if opaque:
                return None
            return "%s defines neither handler(event, context) nor main(args)" % path
    elif attribute not in defined:
        return None if opaque else "%s has no function '%s'" % (path, attribute)
    node = defined[attribute]
    if node is None:
        return None  # bound by an import or an assignment: only running it would tell
    if not (_accepts(node.args, 2) or _accepts(node.args, 1)):
        return "%s:%d: '%s' must accept (event, context) or (args)" % (path, node.lineno, attribute)
    return None
