"""resident"""
