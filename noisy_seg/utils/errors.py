class UserInputError(ValueError):
    """Bad input from a user (config, CLI, paths). Tools print its one-line message, no traceback."""
