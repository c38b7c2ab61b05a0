"""roboos.edge"""
