"""Float Keras twins of the shipped int8 policies (runtime/policy/models/): the
reference of the int8-vs-float checks and of the float rows in docs/results.md."""
