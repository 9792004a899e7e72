app = 42
application = "not callable either"
number = 7
