"""Start a subprocess of the test suite (the CLI, `serve`, a worker) on the suite's clock.

The suite runs at a chosen hour of the day (tests/conftest.py: 17:30 UTC by default, when Beijing's date is a day
ahead of the server's); its subprocesses put this directory on PYTHONPATH so they read the same clock.
"""

import os

if offset := os.environ.get("CIVICGRID_TEST_CLOCK_OFFSET"):
    import time

    import time_machine

    time_machine.travel(time.time() + float(offset), tick=True).start()
    time.time()  # time-machine's clock starts ticking at its first reading: now, not when the process first looks
