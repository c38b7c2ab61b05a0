"""roboos.configs"""
