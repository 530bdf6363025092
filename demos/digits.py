"""The digits lesson as a script: python demos/digits.py [--out DIR] [--quick].

The code is micrograd/demos/digits.py.
"""

from micrograd.demos.digits import main

if __name__ == "__main__":
    main()
