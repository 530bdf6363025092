"""The gradient_check lesson as a script: python demos/gradient_check.py [--out DIR] [--quick].

The code is micrograd/demos/gradient_check.py.
"""

from micrograd.demos.gradient_check import main

if __name__ == "__main__":
    main()
