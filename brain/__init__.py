"""roboos.brain"""
