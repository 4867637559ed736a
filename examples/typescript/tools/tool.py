import sys
print("tool says:", " ".join(sys.argv[1:]))
