"""The moons lesson as a script: python demos/moons.py [--out DIR] [--quick].

The code is micrograd/demos/moons.py.
"""

from micrograd.demos.moons import main

if __name__ == "__main__":
    main()
