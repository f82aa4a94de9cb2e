import Pprof
print("placeholder")
