import sys


class UserInputError(ValueError):
    """Bad input from a user (config, CLI, paths). Tools print its one-line message, no traceback."""


def did_you_mean(word: str, candidates, *, prefix: str = "") -> str:
    """ " Did you mean: a, b?" with up to 3 close `candidates` (each after `prefix`), or "" when none is close."""
    import difflib

    close = difflib.get_close_matches(word, sorted(candidates), n=3)
    return f" Did you mean: {', '.join(prefix + c for c in close)}?" if close else ""


def tool_exit_status(main) -> int:
    """A tool's exit status (its `if __name__ == "__main__": sys.exit(tool_exit_status(main))`): `main()`'s, or 2
    after its one `error: ...` line. Tools raise SystemExit("error: ...") for bad input (so in-process callers and
    tests see the message), which Python alone would end with status 1."""
    try:
        return main()
    except SystemExit as exit_:
        if not isinstance(exit_.code, str):
            raise
        print(exit_.code, file=sys.stderr)
        return 2
