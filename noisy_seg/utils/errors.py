class UserInputError(ValueError):
    """Bad input from a user (config, CLI, paths). Tools print its one-line message, no traceback."""


def did_you_mean(word: str, candidates, *, prefix: str = "") -> str:
    """" Did you mean: a, b?" with up to 3 close `candidates` (each after `prefix`), or "" when none is close."""
    import difflib

    close = difflib.get_close_matches(word, sorted(candidates), n=3)
    return f" Did you mean: {', '.join(prefix + c for c in close)}?" if close else ""
