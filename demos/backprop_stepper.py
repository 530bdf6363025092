"""The backprop_stepper lesson as a script: python demos/backprop_stepper.py [--out DIR] [--quick].

The code is micrograd/demos/backprop_stepper.py.
"""

from micrograd.demos.backprop_stepper import main

if __name__ == "__main__":
    main()
