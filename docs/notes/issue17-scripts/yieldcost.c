#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static long ns(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1000000000L+t.tv_nsec;}
static int cmp(const void*a,const void*b){long x=*(long*)a,y=*(long*)b;return x<y?-1:x>y;}
int main(int argc,char**argv){int n=argc>1?atoi(argv[1]):2000;long*v=malloc(n*sizeof(long));long t0=ns();
for(int i=0;i<n;i++){long a=ns();sched_yield();v[i]=ns()-a;}long tot=ns()-t0;qsort(v,n,sizeof(long),cmp);
printf("sched_yield x%d: median %.1f us, p90 %.1f us, max %.1f us, total %.1f ms\n",n,v[n/2]/1e3,v[n*9/10]/1e3,v[n-1]/1e3,tot/1e6);}
