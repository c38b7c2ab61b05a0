"""roboos.sim"""
