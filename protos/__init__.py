"""roboos.protos"""
