"""The vanishing_gradients lesson as a script: python demos/vanishing_gradients.py [--out DIR] [--quick].

The code is micrograd/demos/vanishing_gradients.py.
"""

from micrograd.demos.vanishing_gradients import main

if __name__ == "__main__":
    main()
