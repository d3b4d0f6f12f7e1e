FROM node
