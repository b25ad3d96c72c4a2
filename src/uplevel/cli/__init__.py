"""The command line: parse, call one use case (uplevel.commands, uplevel.repo), render its
typed result. Nothing else lives here.

app.py is the `uplevel` group; output.py the JSON envelope, exit codes and progress;
options.py the shared options; one module per command group.
"""
